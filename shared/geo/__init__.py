"""Offline geography: address geocoding and travel-time estimates."""

from shared.geo.geocoder import ChinaGeocoder, GeoResult, geocode_lines
from shared.geo.travel import TravelModel

__all__ = ["ChinaGeocoder", "GeoResult", "TravelModel", "geocode_lines"]
