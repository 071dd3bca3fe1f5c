package core

import (
	"io"
	"log/slog"
	"os"
	"time"
)

// Options configure an App: the public gowsgi.Options, which documents
// each field, with the public defaults put in (ForwardedAllowIPs and
// SecureSchemeHeaders: nil is none here).
type Options struct {
	App                 string
	Threads             int
	QueueSize           int
	QueueTimeout        time.Duration
	ScriptName          string
	LimitRequestBody    int64 // negative: no limit (after setDefaults)
	BodyBufferSize      int
	SendTimeout         time.Duration // net/http's; the engine has its own
	BodyTimeout         time.Duration
	BufferMemory        int64 // negative: no limit
	UploadDisk          int64 // negative: no limit
	Multiprocess        bool
	RunOnce             bool
	Logger              *slog.Logger
	Errors              io.Writer
	AccessLog           io.Writer
	AccessLogFormat     string
	Timeout             time.Duration
	MaxRequests         int64
	Recycle             func(reason string)
	Validate            bool
	Debug               bool
	ForwardedAllowIPs   []string
	SecureSchemeHeaders map[string]string
	TempDir             string
	Dedicated           bool
	Python              PythonConfig
	ServerSoftware      string // SERVER_SOFTWARE, e.g. "gowsgi/0.1.0"
}

const (
	defaultQueueSize    = 1024
	defaultQueueTimeout = 30 * time.Second

	// The bounds on what clients make a worker hold; the public Options
	// say why each default is what it is.
	DefaultLimitRequestBody = 1 << 30
	DefaultBodyBufferSize   = 64 << 10
	DefaultBufferMemory     = 16 << 20
	DefaultUploadDisk       = 4 << 30
	DefaultIOTimeout        = 60 * time.Second
	// maxBodyBufferSize keeps a preloaded body within the request arena's
	// 32-bit offsets, far above any sane setting.
	maxBodyBufferSize = 64 << 20
)

func (o *Options) setDefaults() {
	if o.Threads <= 0 {
		o.Threads = 1
	}
	if o.QueueSize <= 0 {
		o.QueueSize = defaultQueueSize
	}
	if o.QueueTimeout == 0 {
		o.QueueTimeout = defaultQueueTimeout
	}
	if o.LimitRequestBody == 0 {
		o.LimitRequestBody = DefaultLimitRequestBody
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = DefaultIOTimeout
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultIOTimeout
	}
	if o.BodyBufferSize <= 0 {
		o.BodyBufferSize = DefaultBodyBufferSize
	}
	o.BodyBufferSize = min(o.BodyBufferSize, maxBodyBufferSize)
	if o.BufferMemory == 0 {
		o.BufferMemory = DefaultBufferMemory
	}
	if o.UploadDisk == 0 {
		o.UploadDisk = DefaultUploadDisk
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Errors == nil {
		o.Errors = os.Stderr
	}
	for len(o.ScriptName) > 0 && o.ScriptName[len(o.ScriptName)-1] == '/' {
		o.ScriptName = o.ScriptName[:len(o.ScriptName)-1]
	}
}
