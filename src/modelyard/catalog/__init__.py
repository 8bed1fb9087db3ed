"""Providers as data: one YAML file per provider, validated once at start-up."""

from modelyard.catalog.loader import Catalog, default_catalog, load_catalog
from modelyard.catalog.spec import FormField, ModelSpec, ProviderSpec

__all__ = ["Catalog", "FormField", "ModelSpec", "ProviderSpec", "default_catalog", "load_catalog"]
