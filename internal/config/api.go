package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// This file is the contract other packages compile against. The config
// helper owns the bodies (and may move them into load.go, errors.go, ...),
// but keeps these names and signatures.

// Duration is a time.Duration written as a string ("30s", "5m", "1h30m").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Size is a byte count written as a string ("512", "64KB", "10MB", "1GiB").
// Following nginx and operators' habit, K, KB and KiB all mean 1024 (and M,
// G likewise), as documented in docs/configuration.md.
type Size int64

// StringList accepts either one string or a list of strings.
type StringList []string

// Pos is a position in a configuration file.
type Pos struct {
	File string
	Line int // 1-based; 0 when unknown
	Col  int // 1-based; 0 when unknown
}

func (p Pos) String() string {
	if p.Line == 0 {
		if p.File == "" {
			return "config"
		}
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is one problem found in a configuration, with where and how to fix it.
type Error struct {
	Pos  Pos
	Msg  string
	Hint string // may be empty
}

// Error renders "FILE:LINE:COL: message (hint: ...)".
func (e *Error) Error() string {
	if e.Hint == "" {
		return e.Pos.String() + ": " + e.Msg
	}
	return e.Pos.String() + ": " + e.Msg + " (hint: " + e.Hint + ")"
}

// Errorf builds an *Error at pos.
func Errorf(pos Pos, hint, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// ErrorList is every problem found, in file order. It is the error type
// returned by Load, Parse and Normalize, and runtime compilation.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// AsErrorList returns err as an ErrorList: positioned errors (an ErrorList
// or an *Error anywhere in err's chain) are kept as they are; any other
// error becomes one entry at pos. Constructors that build runtime objects
// from config use it to report in the file's terms.
func AsErrorList(err error, pos Pos) ErrorList {
	var list ErrorList
	if errors.As(err, &list) {
		return list
	}
	var one *Error
	if errors.As(err, &one) {
		return ErrorList{one}
	}
	return ErrorList{Errorf(pos, "", "%v", err)}
}
