"""Provider codecs: a provider's own event stream in, the transcript's events out.

:mod:`sessionspec.codecs.openai_realtime` maps the OpenAI Realtime API (RT-060..RT-076).
"""
