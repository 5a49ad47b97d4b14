"""Assembly of the gRPC server: services, health, reflection, auth, TLS, limits."""

from __future__ import annotations

import logging
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from sambridge.v1 import (
    automatic_pb2,
    automatic_pb2_grpc,
    batch_pb2,
    batch_pb2_grpc,
    embeddings_pb2,
    embeddings_pb2_grpc,
    images_pb2,
    images_pb2_grpc,
    models_pb2,
    models_pb2_grpc,
    prompts_pb2,
    prompts_pb2_grpc,
    tracking_pb2,
    tracking_pb2_grpc,
    training_pb2,
    training_pb2_grpc,
    volume_pb2,
    volume_pb2_grpc,
)
from sambridge_server.auth import TokenInterceptor
from sambridge_server.config import ServerConfig
from sambridge_server.engine.workspace import Workspace
from sambridge_server.servicers.admission import PROBE_THREADS, AdmissionInterceptor
from sambridge_server.servicers.automatic import AutomaticServicer
from sambridge_server.servicers.batch import BatchServicer
from sambridge_server.servicers.embeddings import EmbeddingServicer
from sambridge_server.servicers.images import ImageServicer
from sambridge_server.servicers.models import ModelServicer
from sambridge_server.servicers.prompts import PromptServicer
from sambridge_server.servicers.rpc import CallLogInterceptor
from sambridge_server.servicers.tracking import TrackingServicer
from sambridge_server.servicers.training import TrainingServicer
from sambridge_server.servicers.volume import VolumeServicer

log = logging.getLogger("sambridge.server")

_SERVICES = (
    (images_pb2, "ImageService", images_pb2_grpc.add_ImageServiceServicer_to_server, ImageServicer),
    (models_pb2, "ModelService", models_pb2_grpc.add_ModelServiceServicer_to_server, ModelServicer),
    (embeddings_pb2, "EmbeddingService", embeddings_pb2_grpc.add_EmbeddingServiceServicer_to_server, EmbeddingServicer),
    (prompts_pb2, "PromptService", prompts_pb2_grpc.add_PromptServiceServicer_to_server, PromptServicer),
    (automatic_pb2, "AutomaticService", automatic_pb2_grpc.add_AutomaticServiceServicer_to_server, AutomaticServicer),
    (volume_pb2, "VolumeService", volume_pb2_grpc.add_VolumeServiceServicer_to_server, VolumeServicer),
    (tracking_pb2, "TrackingService", tracking_pb2_grpc.add_TrackingServiceServicer_to_server, TrackingServicer),
    (training_pb2, "TrainingService", training_pb2_grpc.add_TrainingServiceServicer_to_server, TrainingServicer),
    (batch_pb2, "BatchService", batch_pb2_grpc.add_BatchServiceServicer_to_server, BatchServicer),
)


def _credentials(config: ServerConfig) -> grpc.ServerCredentials | None:
    if config.tls_cert is None:
        return None
    if config.tls_key is None:
        raise ValueError("--tls-cert needs --tls-key")
    return grpc.ssl_server_credentials([(config.tls_key.read_bytes(), config.tls_cert.read_bytes())])


def build_server(config: ServerConfig, workspace: Workspace) -> tuple[grpc.Server, int]:
    """Create (not start) the server for ``workspace``; return it and the bound port."""
    config.check_exposure()
    # The call log comes first so that it also records calls the token check refuses; admission
    # comes after the token check so that callers without a token never take a slot.
    in_flight = config.workers * 8
    interceptors = [CallLogInterceptor(),
                    *([TokenInterceptor(config.token, config.admin_token)] if config.token else []),
                    AdmissionInterceptor(in_flight, config.max_watchers, config.watchers_per_caller)]
    server = grpc.server(
        # One thread per admitted call (long and stalled calls cannot starve the others), one per
        # admitted job watcher, plus a few that only health probes can reach.
        futures.ThreadPoolExecutor(max_workers=in_flight + config.max_watchers + PROBE_THREADS,
                                   thread_name_prefix="sambridge-rpc"),
        interceptors=interceptors,
        options=[
            ("grpc.max_send_message_length", config.max_message_bytes),
            ("grpc.max_receive_message_length", config.max_message_bytes),
        ],
    )
    names = []
    for module, service, add, servicer in _SERVICES:
        add(servicer(workspace), server)
        names.append(module.DESCRIPTOR.services_by_name[service].full_name)

    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ["", *names]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)

    # IPv6 literals need brackets in a gRPC address ("[::1]:50051").
    host = f"[{config.host}]" if ":" in config.host and not config.host.startswith("[") else config.host
    address = f"{host}:{config.port}"
    credentials = _credentials(config)
    if credentials is None:
        if config.host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
            log.warning("serving on %s without TLS: the token travels in clear text", address)
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, credentials)
    if port == 0:
        raise OSError(f"could not bind {address}")
    return server, port
