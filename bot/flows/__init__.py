"""Multi-level flows (flow B): the payload, the pure rules, the tracker and thread, the service.

Import from the module that holds a name (`bot.flows.service.FlowService`): this package keeps
no re-exports, so the start_approval function's cold start imports only what it uses.
"""
