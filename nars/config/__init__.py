"""The search's typed settings: the experiment YAML (`experiment`) and the searcher, predictor and evolution
settings (`settings`), each validated with errors that name the key and the allowed range."""
