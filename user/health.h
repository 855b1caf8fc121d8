/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * health.h - the healthCheckNodePort servers of `svcbpf agent`, as kube-proxy
 * serves them: per LoadBalancer Service with externalTrafficPolicy Local, an
 * HTTP listener on 0.0.0.0:healthCheckNodePort that answers 200 while this
 * node has a ready local endpoint for it, else 503.
 */
#ifndef SVCBPF_HEALTH_H
#define SVCBPF_HEALTH_H

/*
 * Serve the health checks the store asks for, re-read every second, in the
 * calling thread until @sig_fd (a signalfd) is readable; then close every
 * listener and connection. Returns 0, or -errno when the loop cannot go on.
 * A port that cannot be bound is logged once to stderr and retried.
 */
int health_serve(int sig_fd);

#endif /* SVCBPF_HEALTH_H */
