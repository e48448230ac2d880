"""Prometheus metrics of the service (prometheus_client, one registry per application)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

if TYPE_CHECKING:
    from marginengine.service.core import Service, TickReport

#: Tick-to-alert latency buckets, seconds (the goal is p99 at most 50 ms).
LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0,
                   2.5)


class Metrics:
    """Counters, gauges and the latency histogram, read from the service when scraped."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._ticks_seen = 0
        self.registry = CollectorRegistry()
        r = self.registry
        self.ticks = Counter("marginengine_ticks", "Price ticks applied", registry=r)
        self.requests = Counter("marginengine_write_requests", "Write requests applied",
                                registry=r)
        self.events = Counter("marginengine_events", "Events applied, by outcome",
                              ["accepted"], registry=r)
        self.alerts = Counter("marginengine_alert_ticks",
                              "Ticks whose alert named at least one account", registry=r)
        self.rate_limited = Counter("marginengine_rate_limited",
                                    "Writes refused by the ingest rate limit", registry=r)
        self.latency = Histogram("marginengine_tick_to_alert_seconds",
                                 "From a write's arrival to its alert being pushed",
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.commit = Histogram("marginengine_apply_commit_seconds",
                                "Applying a write's events and committing them to the log",
                                buckets=LATENCY_BUCKETS, registry=r)
        self.accounts = Gauge("marginengine_accounts", "Accounts in the book", registry=r)
        self.candidates = Gauge("marginengine_liquidatable_accounts",
                                "Liquidatable accounts (exact)", registry=r)
        self.at_level = Gauge("marginengine_accounts_below_threshold",
                              "Accounts below each alert threshold", ["threshold"], registry=r)
        self.seq = Gauge("marginengine_log_events", "Events applied (the log's sequence)",
                         registry=r)
        self.pending = Gauge("marginengine_log_pending_events",
                             "Events applied but not yet committed to the log (log lag)",
                             registry=r)
        self.heatmaps = Counter("marginengine_heatmaps",
                                "Heatmaps answered: computed, or reused at the same state",
                                ["source"], registry=r)
        self.dropped = Gauge("marginengine_push_dropped",
                             "Alerts dropped for slow push clients", registry=r)

    def observe(self, report: TickReport) -> None:
        """Count one applied write."""
        self.requests.inc()
        self.ticks_total()
        accepted = sum(1 for o in report.outcomes if o.accepted)
        self.events.labels("true").inc(accepted)
        self.events.labels("false").inc(len(report.outcomes) - accepted)
        latency = report.alert.get("latency_ms")
        if latency is not None:
            self.latency.observe(float(latency) / 1000)
        self.commit.observe(max(0.0, report.applied - report.received))
        if report.alert.get("crossed") or report.alert.get("liquidatable", {}).get("new"):
            self.alerts.inc()

    def log_pending(self) -> int:
        """Events held by a per-batch log, not yet committed."""
        log = self.service.engine.log
        return int(getattr(log, "pending", 0)) if log is not None else 0

    def render(self) -> tuple[bytes, str]:
        """The text exposition of every metric."""
        service = self.service
        self.accounts.set(service.account_count())
        self.candidates.set(service.liquidatable_count())
        for t, count in zip(service.thresholds, service.counts_below(), strict=True):
            self.at_level.labels(str(t)).set(count)
        self.seq.set(service.engine.seq)
        self.pending.set(self.log_pending())
        self.ticks_total()
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def ticks_total(self) -> None:
        """Bring the ticks counter up to the service's count."""
        behind = self.service.counters.ticks - self._ticks_seen
        if behind > 0:
            self.ticks.inc(behind)
            self._ticks_seen += behind
