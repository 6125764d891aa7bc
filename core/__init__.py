"""The core every package stands on: errors, the message model, settings, the table base.

It imports none of the hub's other packages; they all import it.
"""
