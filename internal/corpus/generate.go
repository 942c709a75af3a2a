package corpus

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Generate returns the named corpus as the generator makes it (what the
// checked-in files hold); it panics on an unknown name.
func Generate(name string) [][]byte {
	switch name {
	case "chat":
		return chat(2000)
	case "ticks":
		return ticks(2000)
	case "json":
		return documents(48)
	case "text":
		return prose(64)
	case "binary":
		r := rand.New(rand.NewPCG(4, 4))
		msgs := make([][]byte, 16)
		for i := range msgs {
			msgs[i] = make([]byte, 4096)
			for j := range msgs[i] {
				msgs[i][j] = byte(r.Uint32())
			}
		}
		return msgs
	}
	panic("corpus: unknown corpus " + name)
}

// vocabulary: common English words, roughly by frequency; words are drawn
// with a Zipf-like law over this order.
var vocabulary = strings.Fields(`the of and to a in is it you that he was for on are with as I his they
be at one have this from or had by hot word but what some we can out other were all there when up
use your how said an each she which do their time if will way about many then them write would
like so these her long make thing see him two has look more day could go come did number sound no
most people my over know water than call first who may down side been now find any new work part
take get place made live where after back little only round man year came show every good me give
our under name very through just form sentence great think say help low line differ turn cause
much mean before move right boy old too same tell does set three want air well also play small
end put home read hand port large spell add even land here must big high such follow act why ask
men change went light kind off need house picture try us again animal point mother world near
build self earth father head stand own page should country found answer school grow study still
learn plant cover food sun four between state keep eye never last let thought city tree cross
farm hard start might story saw far sea draw left late run while press close night real life
few north open seem together next white children begin got walk example ease paper group always
music those both mark often letter until mile river car feet care second book carry took science
eat room friend began idea fish mountain stop once base hear horse cut sure watch color face wood
main enough plain girl usual young ready above ever red list though feel talk bird soon body dog
family direct pose leave song measure door product black short numeral class wind question happen
complete ship area half rock order fire south problem piece told knew pass since top whole king
space heard best hour better true during hundred five remember step early hold west ground
interest reach fast verb sing listen six table travel less morning ten simple several vowel
toward war lay against pattern slow center love person money serve appear road map rain rule
govern pull cold notice voice unit power town fine certain fly fall lead cry dark machine note
wait plan figure star box noun field rest correct able pound done beauty drive stood contain
front teach week final gave green oh quick develop ocean warm free minute strong special mind
behind clear tail produce fact street inch multiply nothing course stay wheel full force blue
object decide surface deep moon island foot system busy test record boat common gold possible
plane stead dry wonder laugh thousand ago ran check game shape equate miss brought heat snow tire
bring yes distant fill east paint language among`)

// zipf draws word indexes with probability about 1/(rank+2).
type zipf struct {
	r   *rand.Rand
	cdf []float64
}

func newZipf(r *rand.Rand, n int) *zipf {
	z := &zipf{r: r, cdf: make([]float64, n)}
	sum := 0.0
	for i := range n {
		sum += 1 / math.Pow(float64(i+2), 1.05)
		z.cdf[i] = sum
	}
	for i := range z.cdf {
		z.cdf[i] /= sum
	}
	return z
}

func (z *zipf) word() string {
	u := z.r.Float64()
	lo, hi := 0, len(z.cdf)-1
	for lo < hi {
		m := (lo + hi) / 2
		if z.cdf[m] < u {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return vocabulary[lo]
}

// sentence appends a sentence of min..max words.
func (z *zipf) sentence(b []byte, minW, maxW int) []byte {
	n := minW + z.r.IntN(maxW-minW+1)
	for i := range n {
		w := z.word()
		if i == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		} else {
			b = append(b, ' ')
		}
		b = append(b, w...)
		if i < n-1 && z.r.IntN(9) == 0 {
			b = append(b, ',')
		}
	}
	return append(b, ".!?."[z.r.IntN(4)])
}

var firstNames = strings.Fields("ada alan barbara claude dennis donald edsger frances grace guido hedy ken " +
	"linus margaret niklaus radia rob robert sophie tim tony ursula vint whitfield yukihiro")

func chat(n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 1))
	z := newZipf(r, len(vocabulary))
	users := make([]string, 40)
	for i := range users {
		users[i] = fmt.Sprintf("%s_%d", firstNames[i%len(firstNames)], 100+r.IntN(900))
	}
	ts := int64(1_764_000_000_000)
	msgs := make([][]byte, 0, n)
	for id := 0; len(msgs) < n; id++ {
		ts += 50 + r.Int64N(4000)
		u := r.IntN(len(users))
		var m []byte
		switch k := r.IntN(10); {
		case k < 7:
			text := z.sentence(nil, 2, 24)
			m = fmt.Appendf(nil, `{"type":"message","room":"general","id":"m%07d","user":{"id":%d,"name":%q},"ts":%d,"text":%q}`,
				9_000_000+id, 1000+u, users[u], ts, text)
		case k < 9:
			m = fmt.Appendf(nil, `{"type":"typing","room":"general","user":{"id":%d,"name":%q},"ts":%d}`,
				1000+u, users[u], ts)
		default:
			m = fmt.Appendf(nil, `{"type":"reaction","room":"general","id":"m%07d","user":{"id":%d,"name":%q},"ts":%d,"emoji":%q}`,
				9_000_000+id-r.IntN(20), 1000+u, users[u], ts, []string{"thumbsup", "heart", "tada", "eyes"}[r.IntN(4)])
		}
		if len(m) >= 50 && len(m) <= 300 {
			msgs = append(msgs, m)
		}
	}
	return msgs
}

func documents(n int) [][]byte {
	r := rand.New(rand.NewPCG(2, 2))
	z := newZipf(r, len(vocabulary))
	msgs := make([][]byte, n)
	for i := range msgs {
		size := 2048 + r.IntN(18*1024)
		b := fmt.Appendf(nil, `{"kind":"orders","page":%d,"items":[`, i+1)
		for j := 0; ; j++ {
			item := fmt.Appendf(nil, `{"id":%d,"created_at":"2026-%02d-%02dT%02d:%02d:%02dZ","status":%q,"customer":{"id":%d,"name":"%s %s","email":"%s%d@example.com","tier":%q},"lines":[`,
				500_000+r.IntN(100_000), 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60),
				[]string{"pending", "paid", "shipped", "delivered", "refunded"}[r.IntN(5)],
				r.IntN(50_000), firstNames[r.IntN(len(firstNames))], z.word(), z.word(), r.IntN(1000),
				[]string{"free", "pro", "enterprise"}[r.IntN(3)])
			for k := range 1 + r.IntN(4) {
				if k > 0 {
					item = append(item, ',')
				}
				item = fmt.Appendf(item, `{"sku":"SKU-%05d","qty":%d,"price":%d.%02d,"title":%q}`,
					r.IntN(3000), 1+r.IntN(5), r.IntN(300), r.IntN(100), z.sentence(nil, 2, 6))
			}
			item = fmt.Appendf(item, `],"note":%q}`, z.sentence(nil, 0, 12))
			if j > 0 && len(b)+len(item)+40 > size {
				break
			}
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, item...)
		}
		msgs[i] = fmt.Appendf(b, `],"next":"cursor_%d"}`, r.Uint64())
	}
	return msgs
}

func prose(n int) [][]byte {
	r := rand.New(rand.NewPCG(3, 3))
	z := newZipf(r, len(vocabulary))
	msgs := make([][]byte, n)
	for i := range msgs {
		size := 1024 + r.IntN(7*1024)
		var b []byte
		for len(b) < size {
			for range 2 + r.IntN(5) {
				if len(b) > 0 && b[len(b)-1] != '\n' {
					b = append(b, ' ')
				}
				b = z.sentence(b, 4, 22)
			}
			b = append(b, '\n')
		}
		msgs[i] = b
	}
	return msgs
}

// ticks returns market data updates: a few fields change from one message
// to the next and the rest repeats within the last few hundred bytes.
func ticks(n int) [][]byte {
	r := rand.New(rand.NewPCG(5, 5))
	symbols := []string{"ACME", "GLOBX", "INITECH", "UMBRL"}
	price := make([]int, len(symbols))
	for i := range price {
		price[i] = 5_000 + r.IntN(50_000)
	}
	ts := int64(1_764_000_000_000)
	msgs := make([][]byte, n)
	for i := range msgs {
		s := r.IntN(len(symbols))
		price[s] += r.IntN(41) - 20
		ts += int64(r.IntN(40))
		p, a := price[s], price[s]+1+r.IntN(3)
		msgs[i] = fmt.Appendf(nil, `{"type":"tick","channel":"quotes","symbol":%q,"seq":%d,"ts":%d,"bid":%d.%02d,"ask":%d.%02d,"bid_size":%d,"ask_size":%d,"venue":"XNAS"}`,
			symbols[s], 7_000_000+i, ts, p/100, p%100, a/100, a%100, 100*(1+r.IntN(20)), 100*(1+r.IntN(20)))
	}
	return msgs
}
