package gateway

// The bound on a request's header variables, the gateways' counterpart
// of the engine's --limit-request-fields: a front server passes each
// header line of the client's request as one HTTP_* variable, so a client
// that sends many makes the gateway hold and index them all.

// DefaultMaxHeaders is the most header variables a request may carry
// when a gateway's MaxHeaders is zero: gunicorn's --limit-request-fields.
const DefaultMaxHeaders = 100

// maxHeaders is the limit EnvironFromCGI applies for a MaxHeaders
// setting: zero takes the default, a negative one means no limit (the
// variables are still bounded by the packet or params size).
func maxHeaders(setting int) int {
	switch {
	case setting == 0:
		return DefaultMaxHeaders
	case setting < 0:
		return 0
	}
	return setting
}
