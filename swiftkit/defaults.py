"""The defaults more than one module uses, each stated once (a recipe's own defaults are its
sections' in recipe/model.py; ms-swift's are read from the installed ms-swift)."""

TIMEOUT_S = 600.0  # seconds: a server's start-up, or one answer from `verify --url`
INFER_MAX_NEW_TOKENS = 512  # `swiftkit infer`
CHAT_MAX_NEW_TOKENS = 2048  # `swiftkit chat`, and the plain chat's `swift infer` line
# probes asked at once: the requests in flight, and the server's --max_batch_size (ms-swift
# answers 1 at a time otherwise). 16, not 64: a server with a small accept queue (5 is
# http.server's and many proxies') resets what overflows it, and at 64 some probes needed
# the openai client's last retry (tests/test_verify_url.py, the small accept queue)
CONCURRENT_PROBES = 16
