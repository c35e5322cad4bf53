# recall-service: the reference resource service (targets/service).
#
# Built by internal/runtime/docker (BuildReferenceImages, or on demand by that runtime): the build
# context holds only this file and the static binary "service", compiled from targets/cmd/service with
# CGO_ENABLED=0 -trimpath. Keep it FROM scratch with no "# syntax=" line: the build must not pull
# anything. The image is tagged recall-service:<hash of this file and the binary>.
FROM scratch
COPY service /service
USER 65534:65534
EXPOSE 8080
ENTRYPOINT ["/service"]
