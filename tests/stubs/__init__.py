"""Local stubs of the vendors' APIs, speaking their documented wire formats.

Field names, nesting, pagination and cursors follow the vendors' public API
references (links in each module). No test ever calls a real host.
"""
