"""Schemas, parsers and codecs for the packages the hub carries (edXML and its JSON form)."""
