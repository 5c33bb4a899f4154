//! Integration tests against the real RabbitMQ at `HOLDFAST_TEST_AMQP_URL`
//! (default `amqp://guest:guest@127.0.0.1:5672/%2f`). Every test uses its own
//! namespace, so tests run in parallel, and deletes it at the end.

mod delivery;
mod proxy;
mod reconnect;
mod support;
