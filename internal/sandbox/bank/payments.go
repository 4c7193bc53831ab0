package bank

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/obie"
)

// OBIE v3.1 domestic payment request and response (the subset the sandbox checks).

type paymentRequest struct {
	Data *struct {
		ConsentID  string      `json:"ConsentId"`
		Initiation *initiation `json:"Initiation"`
	} `json:"Data"`
	Risk *json.RawMessage `json:"Risk"`
}

type initiation struct {
	InstructionIdentification string          `json:"InstructionIdentification"`
	EndToEndIdentification    string          `json:"EndToEndIdentification"`
	InstructedAmount          *amount         `json:"InstructedAmount"`
	DebtorAccount             *accountRef     `json:"DebtorAccount,omitempty"`
	CreditorAccount           *accountRef     `json:"CreditorAccount"`
	RemittanceInformation     json.RawMessage `json:"RemittanceInformation,omitempty"`
}

type accountRef struct {
	SchemeName              string `json:"SchemeName"`
	Identification          string `json:"Identification"`
	Name                    string `json:"Name,omitempty"`
	SecondaryIdentification string `json:"SecondaryIdentification,omitempty"`
}

type payment struct {
	ID         string
	ClientID   string
	ConsentID  string
	Created    time.Time
	Initiation initiation
	bodyHash   [32]byte
}

type paymentResponse struct {
	Data struct {
		DomesticPaymentID    string     `json:"DomesticPaymentId"`
		ConsentID            string     `json:"ConsentId"`
		Status               string     `json:"Status"`
		CreationDateTime     string     `json:"CreationDateTime"`
		StatusUpdateDateTime string     `json:"StatusUpdateDateTime"`
		Initiation           initiation `json:"Initiation"`
	} `json:"Data"`
	Links links `json:"Links"`
	Meta  meta  `json:"Meta"`
}

// StatusAcceptedSettlementInProcess is the status of every sandbox payment.
const StatusAcceptedSettlementInProcess = "AcceptedSettlementInProcess"

var (
	amountPattern   = regexp.MustCompile(`^\d{1,13}(\.\d{1,5})?$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// fieldError is a 400 about one field of the request.
type fieldError struct {
	code, msg, path string
}

func (b *bank) createPayment(w http.ResponseWriter, r *http.Request, c caller) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, r, http.StatusUnsupportedMediaType, obie.CodeHeaderInvalid, "Content-Type must be application/json", "Content-Type")
		return
	}
	key := r.Header.Get("X-Idempotency-Key")
	switch {
	case key == "":
		writeError(w, r, http.StatusBadRequest, obie.CodeHeaderMissing, "x-idempotency-key is required", "x-idempotency-key")
		return
	case len(key) > maxIdempotencyKey || strings.TrimSpace(key) == "":
		writeError(w, r, http.StatusBadRequest, obie.CodeHeaderInvalid, "x-idempotency-key must be 1 to 40 characters", "x-idempotency-key")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil || len(body) > maxBodyBytes {
		writeError(w, r, http.StatusBadRequest, obie.CodeResourceInvalidFormat, "Request body unreadable or too large", "")
		return
	}
	var req paymentRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil || dec.More() {
		writeError(w, r, http.StatusBadRequest, obie.CodeResourceInvalidFormat, "Request body is not a valid payment", "")
		return
	}
	if fe := checkPayment(&req, c.consentID); fe != nil {
		writeError(w, r, http.StatusBadRequest, fe.code, fe.msg, fe.path)
		return
	}
	p, status, fe := b.store(c, key, body, req)
	if fe != nil {
		writeError(w, r, status, fe.code, fe.msg, fe.path)
		return
	}
	writeJSON(w, r, http.StatusCreated, p.response(r))
}

// checkPayment applies the OBIE field rules the sandbox implements.
func checkPayment(req *paymentRequest, consentID string) *fieldError {
	missing := func(path string) *fieldError {
		return &fieldError{obie.CodeFieldMissing, path + " is required", path}
	}
	invalid := func(path, msg string) *fieldError { return &fieldError{obie.CodeFieldInvalid, msg, path} }
	if req.Data == nil {
		return missing("Data")
	}
	if req.Risk == nil {
		return missing("Risk")
	}
	if t := bytes.TrimSpace(*req.Risk); len(t) == 0 || t[0] != '{' {
		return invalid("Risk", "Risk must be an object")
	}
	d := req.Data
	switch {
	case d.ConsentID == "":
		return missing("Data.ConsentId")
	case d.ConsentID != consentID:
		return &fieldError{obie.CodeResourceConsentMismatch, "Data.ConsentId is not the consent of the access token", "Data.ConsentId"}
	case d.Initiation == nil:
		return missing("Data.Initiation")
	}
	in := d.Initiation
	if fe := text(in.InstructionIdentification, 35, "Data.Initiation.InstructionIdentification"); fe != nil {
		return fe
	}
	if fe := text(in.EndToEndIdentification, 35, "Data.Initiation.EndToEndIdentification"); fe != nil {
		return fe
	}
	amt := in.InstructedAmount
	switch {
	case amt == nil:
		return missing("Data.Initiation.InstructedAmount")
	case amt.Amount == "":
		return missing("Data.Initiation.InstructedAmount.Amount")
	case !amountPattern.MatchString(amt.Amount) || strings.Trim(amt.Amount, "0.") == "":
		return invalid("Data.Initiation.InstructedAmount.Amount", "Amount must be a positive decimal")
	case !currencyPattern.MatchString(amt.Currency):
		return invalid("Data.Initiation.InstructedAmount.Currency", "Currency must be an ISO 4217 code")
	case amt.Currency != "GBP":
		return &fieldError{obie.CodeUnsupportedCurrency, "Only GBP is supported", "Data.Initiation.InstructedAmount.Currency"}
	}
	if in.CreditorAccount == nil {
		return missing("Data.Initiation.CreditorAccount")
	}
	for _, acc := range []struct {
		ref  *accountRef
		path string
	}{{in.CreditorAccount, "Data.Initiation.CreditorAccount"}, {in.DebtorAccount, "Data.Initiation.DebtorAccount"}} {
		if acc.ref == nil {
			continue
		}
		switch acc.ref.SchemeName {
		case "":
			return missing(acc.path + ".SchemeName")
		case "UK.OBIE.SortCodeAccountNumber", "UK.OBIE.IBAN":
		default:
			return &fieldError{obie.CodeUnsupportedScheme, "Unsupported SchemeName", acc.path + ".SchemeName"}
		}
		if fe := text(acc.ref.Identification, 256, acc.path+".Identification"); fe != nil {
			return fe
		}
		if len(acc.ref.Name) > 350 {
			return invalid(acc.path+".Name", "Name is longer than 350 characters")
		}
	}
	if in.CreditorAccount.Name == "" {
		return missing("Data.Initiation.CreditorAccount.Name")
	}
	return nil
}

// text checks a mandatory OBIE MaxNText field.
func text(v string, max int, path string) *fieldError {
	switch {
	case v == "":
		return &fieldError{obie.CodeFieldMissing, path + " is required", path}
	case len(v) > max:
		return &fieldError{obie.CodeFieldInvalid, path + " is too long", path}
	}
	return nil
}

var errDuplicate = errors.New("idempotency key reused with another body")

// store records a payment, or returns the one already made with the same
// idempotency key and body.
func (b *bank) store(c caller, key string, body []byte, req paymentRequest) (*payment, int, *fieldError) {
	sum := sha256.Sum256(body)
	idemKey := c.clientID + "\x00" + key
	b.mu.Lock()
	defer b.mu.Unlock()
	if id, ok := b.idem[idemKey]; ok {
		if p, ok := b.payments[id]; ok {
			if p.bodyHash != sum {
				return nil, http.StatusBadRequest, &fieldError{obie.CodeHeaderInvalid, errDuplicate.Error(), "x-idempotency-key"}
			}
			return p, 0, nil
		}
	}
	var raw [12]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails
	p := &payment{
		ID: "dp-" + hex.EncodeToString(raw[:]), ClientID: c.clientID, ConsentID: req.Data.ConsentID,
		Created: b.clock.Now(), Initiation: *req.Data.Initiation, bodyHash: sum,
	}
	if len(b.order) >= maxPayments {
		old := b.order[0]
		b.order = b.order[1:]
		delete(b.payments, old) // its idempotency entry now points nowhere: harmless
	}
	b.payments[p.ID] = p
	b.order = append(b.order, p.ID)
	b.idem[idemKey] = p.ID
	if len(b.idem) > 2*maxPayments {
		for k, id := range b.idem {
			if _, ok := b.payments[id]; !ok {
				delete(b.idem, k)
			}
		}
	}
	return p, 0, nil
}

func (b *bank) getPayment(w http.ResponseWriter, r *http.Request, c caller) {
	b.mu.Lock()
	p, ok := b.payments[r.PathValue("DomesticPaymentId")]
	b.mu.Unlock()
	if !ok || p.ClientID != c.clientID {
		writeError(w, r, http.StatusNotFound, obie.CodeResourceNotFound, "No such payment", "")
		return
	}
	writeJSON(w, r, http.StatusOK, p.response(r))
}

func (p *payment) response(r *http.Request) paymentResponse {
	var resp paymentResponse
	resp.Data.DomesticPaymentID = p.ID
	resp.Data.ConsentID = p.ConsentID
	resp.Data.Status = StatusAcceptedSettlementInProcess
	resp.Data.CreationDateTime = obTime(p.Created)
	resp.Data.StatusUpdateDateTime = obTime(p.Created)
	resp.Data.Initiation = p.Initiation
	resp.Links = linkTo(r, PathDomesticPayments+"/"+p.ID)
	return resp
}
