"""Chalice's view of the sample: the same handler (copied to chalicelib/sample.py by
bench/run.py) as a pure Lambda function, so ``chalice package`` builds the same code.

``chalice package`` imports this file without the requirements installed, so the handler
module is imported on the first call, as Lambda makes it.
"""

from chalice import Chalice

app = Chalice(app_name="bench-sample")


@app.lambda_function(name="handler")
def handler(event, context):
    from chalicelib import sample

    return sample.handler(event, context)
