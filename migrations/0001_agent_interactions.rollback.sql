DROP TABLE agent_interactions;
