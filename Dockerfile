# 备案助手 image: one image, three roles (Rasa server, action server, balancer-free: use your own LB).
# Not built on the development machine (it has no Docker engine); see README "Containers".
FROM python:3.10.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    RASA_TELEMETRY_ENABLED=false RASA_INTERFACE=0.0.0.0
WORKDIR /app

COPY requirements.txt ./
RUN pip install "pip==24.0" && pip install -r requirements.txt

COPY . .
# The model is trained at build time, so every replica serves the same one.
RUN python -m bot faq build && rasa train --fixed-model-name current --out models

RUN useradd --create-home --uid 10001 beian && chown -R beian /app
USER beian
EXPOSE 5005 5055
# Rasa server by default (`rasa run` through bot.rasa_main, as `make run`); the action server runs the same image with
#   rasa run actions --port 5055 --actions actions
CMD ["sh", "-c", "exec python -m bot.rasa_main run --model models/current.tar.gz --port 5005 --interface \"$RASA_INTERFACE\" \
     --enable-api ${RASA_AUTH_TOKEN:+--auth-token \"$RASA_AUTH_TOKEN\"} \
     --credentials credentials.yml --endpoints \"${RASA_ENDPOINTS:-deploy/endpoints.docker.yml}\""]
