package engine

import (
	"strconv"

	"github.com/gatehouse-proxy/gatehouse/internal/protocol"
)

// appendStatusLine appends "HTTP/1.1 <code> <reason>\r\n".
func appendStatusLine(b []byte, status int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, protocol.StatusText(status)...)
	return append(b, "\r\n"...)
}
