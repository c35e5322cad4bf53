# recall-nats: the reference message bus (targets/bus, an embedded NATS server); 8222 serves GET /healthz.
#
# Built by internal/runtime/docker (BuildReferenceImages, or on demand by that runtime): the build
# context holds only this file and the static binary "nats", compiled from targets/cmd/nats with
# CGO_ENABLED=0 -trimpath. Keep it FROM scratch with no "# syntax=" line: the build must not pull
# anything. The image is tagged recall-nats:<hash of this file and the binary>.
FROM scratch
COPY nats /nats
USER 65534:65534
EXPOSE 4222 8222
ENTRYPOINT ["/nats"]
