/**
 * Prometheus metrics (prom-client), one registry per app. Names follow Triton where there is a counterpart:
 * `gan_inference_count_total` / `gan_inference_exec_count_total` give the average batch size.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'gan_http_requests_total',
    help: 'HTTP requests by route, model and status code',
    labelNames: ['route', 'model', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'gan_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly grpcRequests = new Counter({
    name: 'gan_grpc_requests_total',
    help: 'gRPC calls by method and status code (the Open Inference Protocol on GAN_GRPC_PORT)',
    labelNames: ['method', 'code'] as const,
    registers: [this.registry],
  });
  readonly grpcDuration = new Histogram({
    name: 'gan_grpc_request_duration_seconds',
    help: 'gRPC call latency by method',
    labelNames: ['method'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly images = new Counter({
    name: 'gan_images_total',
    help: 'Images produced by generators (or scored by discriminators and classifiers)',
    labelNames: ['model', 'network'] as const,
    registers: [this.registry],
  });
  readonly inferenceCount = new Counter({
    name: 'gan_inference_count_total',
    help: 'Rows (images) run through a network; divide by gan_inference_exec_count_total for the mean batch',
    labelNames: ['model', 'network'] as const,
    registers: [this.registry],
  });
  readonly execCount = new Counter({
    name: 'gan_inference_exec_count_total',
    help: 'onnxruntime executions (batches) per network',
    labelNames: ['model', 'network'] as const,
    registers: [this.registry],
  });
  readonly queueWait = new Histogram({
    name: 'gan_queue_wait_seconds',
    help: 'Time from a request’s arrival to the start of the batch that ran it',
    labelNames: ['model', 'network'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly compute = new Histogram({
    name: 'gan_compute_seconds',
    help: 'onnxruntime run time per batch',
    labelNames: ['model', 'network'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'gan_queue_depth',
    help: 'Images waiting for a worker, per model',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly requestsCancelled = new Counter({
    name: 'gan_requests_cancelled_total',
    help: 'Inference requests dropped because their client went away while they were queued or running',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly modelLoads = new Counter({
    name: 'gan_model_loads_total',
    help: 'Model loads and reloads by outcome (success, failure)',
    labelNames: ['model', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly modelLoadDuration = new Histogram({
    name: 'gan_model_load_duration_seconds',
    help: 'Time to load, check and warm up a model version',
    labelNames: ['model'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly modelUnloads = new Counter({
    name: 'gan_model_unloads_total',
    help: 'Model unloads',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly modelUnloadDuration = new Histogram({
    name: 'gan_model_unload_duration_seconds',
    help: 'Time from an unload request until the model version is released (its running requests finish first)',
    labelNames: ['model'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly modelState = new Gauge({
    name: 'gan_model_state',
    help: 'Each model state (READY, UNAVAILABLE, LOADING, UNLOADING): 1 for the current one',
    labelNames: ['model', 'state'] as const,
    registers: [this.registry],
  });
  readonly modelInfo = new Gauge({
    name: 'gan_model_info',
    help: 'Loaded models (1 = ready) with the execution provider actually in use',
    labelNames: ['model', 'network', 'provider'] as const,
    registers: [this.registry],
  });
  readonly rejectionCandidates = new Counter({
    name: 'gan_rejection_candidates_total',
    help: 'Candidates generated and scored for rejection sampling, by outcome: accepted (returned) or rejected (the extra cost)',
    labelNames: ['model', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly rejectionCalibration = new Counter({
    name: 'gan_rejection_calibration_samples_total',
    help: "Samples generated and scored to calibrate discriminator rejection sampling (D's maximum and γ), once per model and setting",
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly workerRestarts = new Counter({
    name: 'gan_worker_restarts_total',
    help: 'Inference workers restarted after they stopped unexpectedly',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'gan_' });
  }
}
