"""Shared helpers below every other layer: errors, files, versions, package resources."""
