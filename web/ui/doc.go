// Package ui is kcledger's web console: server-rendered pages for finance
// officers, auditors and admins, in Vietnamese first and in English, on
// the same address as the JSON API.
//
// The console holds no rule of its own. A page reads and a form records
// by calling the API's own routes in process, as the session's account
// (api.Server.ServeAs): the same scopes, rules, idempotency and error
// codes as a token gets; the console only renders their answers in the
// user's language, and shows a refusal beside the field it names.
//
// Layout: routes.go lists every page; each page or group of pages is a
// file of its own with its form parsing beside it (login.go, …), its
// template under templates/ and its texts in web/i18n's catalogues.
// session.go keeps the sessions (a JetStream key-value bucket shared by
// every process), call.go calls the API, render.go draws the pages.
// Templates and assets are embedded in the binary; no page asks any other
// host for anything, and every page works without JavaScript.
package ui
