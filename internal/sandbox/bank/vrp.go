package bank

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"mime"
	"net/http"

	"github.com/portcullis/portcullis/internal/obie"
)

// PathDomesticVRPs is the sandbox's VRP payment endpoint (OBIE VRP API v3.1).
const PathDomesticVRPs = BasePath + "/pisp/domestic-vrps"

// vrpRequest is the subset of OBDomesticVRPRequest the sandbox reads.
type vrpRequest struct {
	Data *struct {
		ConsentID   string          `json:"ConsentId"`
		Initiation  json.RawMessage `json:"Initiation"`
		Instruction *struct {
			InstructedAmount *amount `json:"InstructedAmount"`
		} `json:"Instruction"`
	} `json:"Data"`
}

// createVRP accepts a VRP payment that the gateway let through (the consent's control
// parameters were checked and counted there) and answers it settled. Nothing is kept.
func (b *bank) createVRP(w http.ResponseWriter, r *http.Request, c caller) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, r, http.StatusUnsupportedMediaType, obie.CodeHeaderInvalid, "Content-Type must be application/json", "Content-Type")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil || len(body) > maxBodyBytes {
		writeError(w, r, http.StatusBadRequest, obie.CodeResourceInvalidFormat, "Request body unreadable or too large", "")
		return
	}
	var req vrpRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil || dec.More() || req.Data == nil {
		writeError(w, r, http.StatusBadRequest, obie.CodeResourceInvalidFormat, "Request body is not a VRP payment", "")
		return
	}
	d := req.Data
	switch {
	case d.ConsentID != c.consentID:
		writeError(w, r, http.StatusBadRequest, obie.CodeResourceConsentMismatch, "Data.ConsentId is not the consent of the access token", "Data.ConsentId")
		return
	case d.Instruction == nil || d.Instruction.InstructedAmount == nil || !amountPattern.MatchString(d.Instruction.InstructedAmount.Amount):
		writeError(w, r, http.StatusBadRequest, obie.CodeFieldInvalid, "Data.Instruction.InstructedAmount is required", "Data.Instruction.InstructedAmount")
		return
	}
	now := obTime(b.clock.Now())
	var resp struct {
		Data struct {
			DomesticVRPID        string          `json:"DomesticVRPId"`
			ConsentID            string          `json:"ConsentId"`
			CreationDateTime     string          `json:"CreationDateTime"`
			Status               string          `json:"Status"`
			StatusUpdateDateTime string          `json:"StatusUpdateDateTime"`
			Initiation           json.RawMessage `json:"Initiation"`
			InstructedAmount     amount          `json:"InstructedAmount"`
		} `json:"Data"`
		Links links `json:"Links"`
		Meta  meta  `json:"Meta"`
	}
	resp.Data.DomesticVRPID, resp.Data.ConsentID = "vrp-pay-"+rand.Text(), d.ConsentID
	resp.Data.CreationDateTime, resp.Data.StatusUpdateDateTime, resp.Data.Status = now, now, "AcceptedSettlementCompleted"
	resp.Data.Initiation, resp.Data.InstructedAmount = d.Initiation, *d.Instruction.InstructedAmount
	resp.Links, resp.Meta = selfLink(r), meta{TotalPages: 1}
	writeJSON(w, r, http.StatusCreated, resp)
}
