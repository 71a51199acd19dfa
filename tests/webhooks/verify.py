"""Verifies webhook requests with the Standard Webhooks reference library
(standardwebhooks on PyPI), for the notification service's webhook tests.

Reads a JSON list from stdin, each {"secret": "whsec_…", "headers": {…},
"body": "…"}, and prints a JSON list with, for each, null when the library
accepts the request under that secret, or its error message.

The library also refuses a timestamp more than five minutes from now, so a
replayed old request fails here as it would at a real receiver.
"""

import json
import sys

from standardwebhooks.webhooks import Webhook


def check(case):
    try:
        Webhook(case["secret"]).verify(case["body"], case["headers"])
        return None
    except Exception as error:  # the library's WebhookVerificationError
        return f"{type(error).__name__}: {error}"


print(json.dumps([check(case) for case in json.load(sys.stdin)]))
