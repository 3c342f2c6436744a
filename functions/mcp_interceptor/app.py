"""McpInterceptorFunction: AgentCore Gateway's REQUEST and RESPONSE interceptor for the three
tools (who the agent acts for; tool errors marked as such). The logic lives in the shared layer
(insurance_agent.doors.interceptor)."""

from insurance_agent.cold_start import init_phase

with init_phase():
    from insurance_agent.entry import interceptor_handler

handler = interceptor_handler()
