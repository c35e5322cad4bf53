# recall-gateway: the reference API gateway (targets/gateway).
#
# Built by internal/runtime/docker (BuildReferenceImages, or on demand by that runtime): the build
# context holds only this file and the static binary "gateway", compiled from targets/cmd/gateway with
# CGO_ENABLED=0 -trimpath. Keep it FROM scratch with no "# syntax=" line: the build must not pull
# anything. The image is tagged recall-gateway:<hash of this file and the binary>.
FROM scratch
COPY gateway /gateway
USER 65534:65534
EXPOSE 8080
ENTRYPOINT ["/gateway"]
