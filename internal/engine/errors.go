package engine

import (
	"strconv"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// refusal is the whole response for a refused request, byte for byte what
// internal/listen's guard writes, so both engines answer a malformed
// request identically: no client byte, no Go error text.
func refusal(status int) string {
	text := strconv.Itoa(status) + " " + refusalText(status) + "\n"
	return "HTTP/1.1 " + strconv.Itoa(status) + " " + refusalText(status) +
		"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(text)) + "\r\n\r\n" + text
}

func refusalText(status int) string {
	switch status {
	case 414:
		return "URI Too Long"
	case 431:
		return "Request Header Fields Too Large"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Bad Request"
}

// appendStatusLine appends "HTTP/1.1 <code> <reason>\r\n".
func appendStatusLine(b []byte, status int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, protocol.StatusText(status)...)
	return append(b, "\r\n"...)
}
