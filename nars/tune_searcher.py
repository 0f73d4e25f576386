"""A Ray Tune `Searcher` base class that keeps Tune's metric and mode.

Ray's own `Searcher.set_search_properties` ignores them, so a searcher built without a metric
would never see a result; Tune calls this method only when the Tuner has a `param_space`.
"""

from __future__ import annotations

from typing import Any

from ray.tune.search import Searcher


class MetricAwareSearcher(Searcher):
    """Takes the metric and mode of Tune's `TuneConfig` when the constructor left them unset."""

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any) -> bool:
        if self._metric is None:
            self._metric = metric
        if self._mode is None:
            self._mode = mode
        return True
