package admin

import (
	"errors"
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// reloadResult is the answer to a successful reload.
type reloadResult struct {
	Generation uint64 `json:"generation"`
}

// reload handles POST /reload: the same reload as SIGHUP, answered once it
// is done. 200 {"generation":N} when the new configuration serves; 422
// with the positioned errors when it was refused (the old one keeps
// serving); 409 when there is no file to reload.
func (h *Handler) reload(w http.ResponseWriter, r *http.Request) {
	// The body is optional and carries nothing yet; refuse garbage anyway,
	// so a client sending options we do not know learns it.
	var req struct{}
	if err := decode(r, &req, true); err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	gen, err := h.opts.Reload("admin API")
	if err != nil {
		var list config.ErrorList
		switch {
		case errors.Is(err, ErrNoReload):
			writeError(w, http.StatusConflict, "no configuration file to reload (quick mode)", nil)
		case errors.As(err, &list):
			writeError(w, http.StatusUnprocessableEntity, "config reload refused; the previous configuration keeps serving", list)
		default:
			// Not a file problem (a listener that cannot be opened):
			// the operator needs the reason, and this API is theirs.
			writeError(w, http.StatusUnprocessableEntity, "config reload refused; the previous configuration keeps serving: "+err.Error(), nil)
		}
		return
	}
	writeJSON(w, http.StatusOK, reloadResult{Generation: gen})
}
