-- depends: 0004_idempotency
-- A fourth door: MCP tool calls through Amazon Bedrock AgentCore Gateway (channel 'mcp').
ALTER TABLE agent_interactions DROP CONSTRAINT agent_interactions_channel_check;
ALTER TABLE agent_interactions ADD CONSTRAINT agent_interactions_channel_check
    CHECK (channel IN ('http', 'direct', 'bedrock', 'mcp'));
