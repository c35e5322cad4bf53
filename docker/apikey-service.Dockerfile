# recall-apikey-service: the reference API-key service (targets/apikey).
#
# Built by internal/runtime/docker (BuildReferenceImages, or on demand by that runtime): the build
# context holds only this file and the static binary "apikey-service", compiled from targets/cmd/apikey-service with
# CGO_ENABLED=0 -trimpath. Keep it FROM scratch with no "# syntax=" line: the build must not pull
# anything. The image is tagged recall-apikey-service:<hash of this file and the binary>.
FROM scratch
COPY apikey-service /apikey-service
USER 65534:65534
EXPOSE 8080
ENTRYPOINT ["/apikey-service"]
