package protocol

// Header is the small header interface the protocol rules work over, so the
// net/http path (http.Header satisfies it) and the own HTTP/1.1 engine share
// one implementation. Names passed in are canonical ("X-Forwarded-For").
type Header interface {
	Get(name string) string
	Values(name string) []string
	Set(name, value string)
	Add(name, value string)
	Del(name string)
}
