"""Outbound sending: template rendering and (later) the sending engine."""
