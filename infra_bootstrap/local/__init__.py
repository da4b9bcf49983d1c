"""The embedded local cloud: our EventBridge data plane in front of moto."""
