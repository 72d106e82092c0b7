"""The REST API under /api/v1: one module per resource, each exposing its blueprint as `bp`
(registered by create_app); common.py authenticates and pages, serializers.py holds the JSON
shapes of our records, openapi/ builds the OpenAPI document."""
