"""Codecs at the edge: other tools' session files, message shapes and event streams (DESIGN §2).

One module per format; each translates into or out of the one message model:

- :mod:`sessionspec.codecs.openai_realtime`: the OpenAI Realtime API's server events into the
  transcript's events (RT-060..RT-077).
- :mod:`sessionspec.codecs.meerkat`: meerkat's session JSON shape (CONV).
"""
