"""API Gateway REST APIs as Chalice deploys them, invoked on the local endpoint.

The control plane is moto's (CreateDeployment, stages, GetResources, ...), except
ImportRestApi and PutRestApi of a Swagger 2.0 document, which moto refuses: ``control``
normalizes the document and hands it to moto's OpenAPI importer. The data plane is ours:
``http://127.0.0.1:<port>/restapis/<api-id>/<stage>/_user_request_/<path>`` (``urls``)
finds the method (``routing``), checks that the integrated function's resource policy
lets ``apigateway.amazonaws.com`` invoke it, invokes it synchronously with the Lambda
proxy event and maps its answer (``proxy``); ``service`` orchestrates.

Modules, each importing only those before it: ``urls``, ``definition``, ``routing``,
``proxy``, ``control``, ``service``.
"""
