"""infra_bootstrap: builds and checks the backbone's AWS resources from topology.toml."""
