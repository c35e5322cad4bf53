package issuer_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/recall-drills/recall/targets/issuer"
)

// An issuer in process: mint a token over HTTP, recall it with the Go API, and see it inactive.
func Example() {
	iss, err := issuer.New(issuer.Config{
		AdminSecret: "s3cret",
		Clients:     []issuer.Client{{ID: "app", Secret: "app-secret"}},
	})
	if err != nil {
		panic(err)
	}
	defer iss.Close()
	srv := httptest.NewServer(iss.Handler()) // 127.0.0.1, random port
	defer srv.Close()
	iss.SetBaseURL(srv.URL)

	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"app-secret"}}
	resp, err := http.PostForm(srv.URL+"/token", form)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("token:", resp.Status)

	// In a drill the victims' jtis come from the token responses; here: every token of "app".
	res, err := iss.Recall(context.Background(), issuer.RecallRequest{Type: issuer.RecallClient, Values: []string{"app"}})
	if err != nil {
		panic(err)
	}
	fmt.Println("recall:", res.Type, res.Count, "rule(s), version", res.Version)
	fmt.Println("ground truth records:", len(iss.Truth().Records()))
	fmt.Println("revocation list:", strings.Join([]string{string(iss.Revocations(0).Rules[0].Type), iss.Revocations(0).Rules[0].Value}, "="))
	// Output:
	// token: 200 OK
	// recall: client 1 rule(s), version 1
	// ground truth records: 1
	// revocation list: client=app
}
