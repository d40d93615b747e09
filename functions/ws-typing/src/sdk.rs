//! The AWS side of [`crate::handle`]: API Gateway's Management API, on the shared HTTPS
//! client (rustls on ring) of `dynamo::client`.

use crate::Poster;
use aws_sdk_apigatewaymanagement::error::DisplayErrorContext;
use aws_sdk_apigatewaymanagement::primitives::Blob;

/// One WebSocket API stage's `@connections` endpoint.
pub struct ManagementApi {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ManagementApi {
    /// `endpoint` is the stage's HTTPS URL, `https://<api>.execute-api.<region>.amazonaws.com/<stage>`.
    pub fn new(config: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(config)
            .endpoint_url(endpoint)
            .build();
        ManagementApi {
            client: aws_sdk_apigatewaymanagement::Client::from_conf(config),
        }
    }
}

impl Poster for ManagementApi {
    async fn post(&self, connection_id: &str, data: &str) -> Result<(), String> {
        self.client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(data.as_bytes()))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| DisplayErrorContext(&err).to_string())
    }
}
