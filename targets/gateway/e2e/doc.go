// Package e2e holds end-to-end tests of the reference gateways against the reference issuer
// (targets/issuer) and an embedded NATS server. It has no non-test code; it is a package of its
// own so that the gateway's unit tests never depend on the issuer compiling.
package e2e
