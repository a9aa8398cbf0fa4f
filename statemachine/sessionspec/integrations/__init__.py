"""Integrations with agent frameworks; each is optional and imports nothing it does not need.

- :mod:`sessionspec.integrations.openai_agents`: the OpenAI Agents SDK ``Session`` protocol
  (extra ``agents``).
"""
