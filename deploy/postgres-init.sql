-- One PostgreSQL server, one database per subgraph: each subgraph owns its data
-- (no subgraph can join another's tables) without running three servers.
CREATE DATABASE users;
CREATE DATABASE orders;
CREATE DATABASE notifications;
