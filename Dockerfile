# syntax=docker/dockerfile:1
#
# The production image of reconciler: the daemon and git, nothing else (no AWS simulator, no
# test tools). Build and run:
#
#   docker build -t reconciler:0.1.0 --build-arg VERSION=0.1.0 .
#   docker run --rm --read-only --tmpfs /tmp -v reconciler-work:/var/lib/reconciler \
#     -e RECONCILER_SOURCE_URL=https://github.com/acme/aws-access.git -p 8080:8080 reconciler:0.1.0
#
# The container runs as uid/gid 10001 and writes only to /var/lib/reconciler (the git clone,
# and HOME) and /tmp, so it runs with a read-only root filesystem.

# The base image, pinned by digest so a rebuild gets the same bytes: the multi-platform index
# digest of python:3.12-slim when it was python:3.12.14-slim-trixie. To update, read the current
# digest with `docker buildx imagetools inspect python:3.12-slim` (the `Digest:` line of the
# index, not a platform's) and replace it here; both stages use it.
ARG PYTHON_IMAGE=python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea

# --- builder: build the wheel and install it, with its production dependencies, into a venv ---
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
RUN python -m venv /opt/venv
# Only what the wheel is built from (see .dockerignore): the package, its metadata, the README
# that pyproject.toml names as the long description.
COPY pyproject.toml README.md ./
COPY reconciler ./reconciler
# `pip install .` installs [project].dependencies only: not the `sandbox` extra (moto) and not
# the `dev` extra (pytest, ruff, mypy, ...).
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/venv/bin/pip install /wheels/*.whl \
 && /opt/venv/bin/pip uninstall --yes pip \
 && /opt/venv/bin/python -c "import importlib.util as u; assert not u.find_spec('moto') and not u.find_spec('pytest')"

# --- runtime -------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="reconciler" \
      org.opencontainers.image.description="GitOps daemon for AWS Organizations and cross-account IAM access" \
      org.opencontainers.image.source="https://github.com/example/reconciler" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"

# git fetches the desired state; openssh-client for ssh:// remotes (--git-ssh-key-file);
# ca-certificates for https:// remotes and AWS endpoints; tini runs as PID 1, forwards signals to
# the daemon and reaps the git and ssh processes it spawns (a git child killed on timeout would
# otherwise stay a zombie: the kernel hands orphans to PID 1, and Python never waits for them).
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 reconciler \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/reconciler --no-create-home \
      --shell /usr/sbin/nologin reconciler \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/reconciler

COPY --from=builder /opt/venv /opt/venv

# HOME on the writable volume: git and ssh look there for their configuration; with a
# read-only root filesystem nothing else is writable. ssh never records a host key: SSH remotes
# need the host's key in a mounted file (RECONCILER_GIT_KNOWN_HOSTS_FILE).
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/var/lib/reconciler \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RECONCILER_WORKDIR=/var/lib/reconciler

WORKDIR /var/lib/reconciler
VOLUME ["/var/lib/reconciler"]
USER 10001:10001
EXPOSE 8080

ENTRYPOINT ["tini", "--", "reconciler"]
CMD ["run"]
