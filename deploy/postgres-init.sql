-- One database and one role per service: a service can reach only its own
-- tables (ARCHITECTURE.md: "a service never reads another service's tables").
-- Runs once, when the postgres volume is empty (docker-entrypoint-initdb.d).
-- Passwords are for a single developer host only; change them (and the
-- DATABASE_URL_* in docker-compose.yml) for anything shared.
CREATE ROLE intake        LOGIN PASSWORD 'intake';
CREATE ROLE dispatch      LOGIN PASSWORD 'dispatch';
CREATE ROLE parts         LOGIN PASSWORD 'parts';
CREATE ROLE settlement    LOGIN PASSWORD 'settlement';
CREATE ROLE certification LOGIN PASSWORD 'certification';
CREATE ROLE qa            LOGIN PASSWORD 'qa';
CREATE ROLE notify        LOGIN PASSWORD 'notify';
CREATE ROLE gateway       LOGIN PASSWORD 'gateway';

CREATE DATABASE intake        OWNER intake        ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE dispatch      OWNER dispatch      ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE parts         OWNER parts         ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE settlement    OWNER settlement    ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE certification OWNER certification ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE qa            OWNER qa            ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE notify        OWNER notify        ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE gateway       OWNER gateway       ENCODING 'UTF8' TEMPLATE template0;

-- No role may connect to another service's database.
REVOKE CONNECT ON DATABASE intake, dispatch, parts, settlement, certification, qa, notify, gateway FROM PUBLIC;
GRANT CONNECT ON DATABASE intake        TO intake;
GRANT CONNECT ON DATABASE dispatch      TO dispatch;
GRANT CONNECT ON DATABASE parts         TO parts;
GRANT CONNECT ON DATABASE settlement    TO settlement;
GRANT CONNECT ON DATABASE certification TO certification;
GRANT CONNECT ON DATABASE qa            TO qa;
GRANT CONNECT ON DATABASE notify        TO notify;
GRANT CONNECT ON DATABASE gateway       TO gateway;
