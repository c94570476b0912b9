# 备案助手 image: one image, two roles (Rasa server, action server); nginx runs the stock nginx image
# with deploy/nginx.conf (compose.yaml).
# Not built on the development machine (it has no Docker engine); see README "Containers".
FROM python:3.10.13-slim-bookworm

# 0.0.0.0 is the containers' internal network: only nginx publishes a port (compose.yaml).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    RASA_TELEMETRY_ENABLED=false RASA_INTERFACE=0.0.0.0 ACTIONS_INTERFACE=0.0.0.0 \
    RASA_ENDPOINTS=deploy/endpoints.docker.yml
WORKDIR /app

COPY requirements.txt ./
RUN pip install "pip==24.0" && pip install -r requirements.txt

COPY . .
# The model is trained at build time, so every replica serves the same one.
RUN python -m bot faq build && rasa train --fixed-model-name current --out models

RUN useradd --create-home --uid 10001 beian && chown -R beian /app
USER beian
EXPOSE 5005 5055
# Rasa server by default, with the command line `make prod` uses (bot.serve.rasa_arguments): it
# refuses to start while Rasa's HTTP API is on (RASA_ENABLE_API, default true) and RASA_AUTH_TOKEN
# is unset. The action server runs the same image with
#   rasa run actions --port 5055 --actions actions     (binds SANIC_HOST, set from ACTIONS_INTERFACE)
CMD ["python", "-m", "bot", "rasa-server", "--model", "models/current.tar.gz", "--port", "5005"]
