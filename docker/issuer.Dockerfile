# recall-issuer: the reference authorization server (targets/issuer).
#
# Built by internal/runtime/docker (BuildReferenceImages, or on demand by that runtime): the build
# context holds only this file and the static binary "issuer", compiled from targets/cmd/issuer with
# CGO_ENABLED=0 -trimpath. Keep it FROM scratch with no "# syntax=" line: the build must not pull
# anything. The image is tagged recall-issuer:<hash of this file and the binary>.
FROM scratch
COPY issuer /issuer
USER 65534:65534
EXPOSE 8080
ENTRYPOINT ["/issuer"]
