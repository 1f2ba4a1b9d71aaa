//! The public description of a private-inference job ([`InferSpec`]): who
//! holds what and the model's architecture, never its weights. In
//! distributed mode it comes from a peer, so every size in it is checked
//! before use.

use crate::arch::Architecture;
use crate::error::{ModelError, Result};
use crate::model::SavedModel;
use crate::spec::{
    hidden_activation, ConvSpec, ModelKind, Security, TrainConfig, MAX_CLASSES, MAX_ELEMS,
    MAX_FEATURES, MAX_LAYERS, MAX_ROWS, MAX_WIDTH,
};
use serde::{Deserialize, Serialize};
use tessera_protocols::prep::Provider;
use tessera_protocols::PartyId;
use tessera_tensor::FixedPoint;

/// What the querier learns for each row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InferOutput {
    /// The predicted class only (or the value, for linear regression).
    Class,
    /// Class probabilities (or the value, for linear regression).
    Scores,
}

/// The public facts of an inference job: who holds what, and the model's
/// architecture (not its weights).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferSpec {
    /// Number of parties.
    pub parties: usize,
    /// Party holding the model.
    pub owner: PartyId,
    /// Party holding the rows and receiving the predictions.
    pub querier: PartyId,
    /// What the querier learns.
    pub output: InferOutput,
    /// Model kind.
    pub kind: ModelKind,
    /// Widths `[features, hidden..., outputs]`.
    pub dims: Vec<usize>,
    /// Hidden activation: exact ReLU or polynomial of this degree.
    pub relu_degree: Option<u8>,
    /// Number of query rows.
    pub rows: usize,
    /// Fractional bits the model was trained with (every party must use them).
    #[serde(default = "default_frac_bits")]
    pub frac_bits: u32,
    /// Where the correlated randomness comes from.
    #[serde(default)]
    pub preprocessing: Provider,
    /// What the parties are trusted to do.
    #[serde(default)]
    pub security: Security,
    /// A CNN's convolutional stages (the first blocks are their filters).
    #[serde(default)]
    pub convolutions: Vec<ConvSpec>,
    /// A CNN's input images, `[channels, height, width]`.
    #[serde(default)]
    pub image: Option<[usize; 3]>,
    /// An imported model's architecture (ONNX); `dims` then holds only its
    /// inputs and outputs. `None` for tessera's own models, whose
    /// architecture the fields above describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<Architecture>,
}

/// The owner and the querier must be two different parties.
fn check_roles(parties: usize, owner: PartyId, querier: PartyId) -> Result<()> {
    if parties < 2 || owner >= parties || querier >= parties || owner == querier {
        return Err(ModelError::Config(format!(
            "owner {owner} and querier {querier} must be two different parties among {parties}"
        )));
    }
    Ok(())
}

fn default_frac_bits() -> u32 {
    tessera_tensor::DEFAULT_FRAC_BITS
}

impl InferSpec {
    /// The public description of inferring with `model` on `rows` rows.
    pub fn new(
        model: &SavedModel,
        parties: usize,
        owner: PartyId,
        querier: PartyId,
        output: InferOutput,
        rows: usize,
    ) -> Result<Self> {
        check_roles(parties, owner, querier)?;
        let mut dims = vec![model.features.len()];
        if model.kind.is_multiclass() {
            dims.extend(model.layers.iter().map(|l| l.bias.len()));
        } else {
            dims.push(1);
        }
        Ok(Self {
            parties,
            owner,
            querier,
            output,
            kind: model.kind,
            dims,
            relu_degree: model.training.relu_degree,
            rows,
            frac_bits: model.frac_bits,
            preprocessing: Provider::Dealer,
            security: Security::SemiHonest,
            convolutions: model.training.convolutions.clone(),
            image: model.training.image,
            graph: None,
        })
    }

    /// The public description of inferring with an imported network.
    pub fn for_graph(
        graph: Architecture,
        parties: usize,
        owner: PartyId,
        querier: PartyId,
        output: InferOutput,
        rows: usize,
    ) -> Result<Self> {
        check_roles(parties, owner, querier)?;
        let outputs = graph.outputs()?;
        let kind = match (outputs, graph.head) {
            (1, crate::arch::Head::Sigmoid) => ModelKind::Logistic,
            (1, _) => ModelKind::Linear,
            _ => ModelKind::Mlp,
        };
        Ok(Self {
            parties,
            owner,
            querier,
            output,
            kind,
            dims: vec![graph.inputs, outputs],
            relu_degree: None,
            rows,
            frac_bits: tessera_tensor::DEFAULT_FRAC_BITS,
            preprocessing: Provider::Dealer,
            security: Security::SemiHonest,
            convolutions: Vec::new(),
            image: None,
            graph: Some(graph),
        })
    }

    /// The network's architecture: the imported graph, or the one the
    /// fields of a tessera model describe.
    pub fn architecture(&self) -> Result<Architecture> {
        match &self.graph {
            Some(g) => Ok(g.clone()),
            None => Architecture::native(
                self.kind,
                &self.dims,
                self.relu_degree,
                &self.convolutions,
                self.image,
            ),
        }
    }

    /// Each parameter block's shape `[inputs + 1, outputs]` (weights, then
    /// the bias row), in layer order.
    pub fn block_shapes(&self) -> Result<Vec<[usize; 2]>> {
        let arch = self.architecture()?;
        let widths = arch.widths()?;
        if self.graph.is_none()
            && arch
                .block_shapes()
                .iter()
                .map(|s| s[1])
                .ne(self.dims[1..].iter().copied())
        {
            return Err(ModelError::Config(format!(
                "inference spec: widths {:?} do not match the convolutions {:?}",
                self.dims, self.convolutions
            )));
        }
        if self.dims != [arch.inputs, *widths.last().expect("checked")] && self.graph.is_some() {
            return Err(ModelError::Config(format!(
                "inference spec: widths {:?} are not the graph's inputs and outputs",
                self.dims
            )));
        }
        Ok(arch.block_shapes())
    }
}

impl InferSpec {
    /// Checks every size and choice in the spec against the session of
    /// `parties` parties and the limits, before anything is allocated from
    /// it: in distributed mode the architecture and the row count come from
    /// peers.
    pub fn check(&self, parties: usize) -> Result<()> {
        let bad = |m: String| Err(ModelError::Config(format!("inference spec: {m}")));
        if self.parties != parties
            || self.owner >= parties
            || self.querier >= parties
            || self.owner == self.querier
        {
            return bad(format!(
                "owner {} and querier {} must be two different parties among {parties} (the spec says {})",
                self.owner, self.querier, self.parties
            ));
        }
        if self.dims.len() < 2 || self.dims.len() > MAX_LAYERS + 1 {
            return bad(format!(
                "widths {:?} must list the inputs, up to {MAX_LAYERS} layers' outputs",
                self.dims
            ));
        }
        let widest = if self.kind.is_multiclass() {
            MAX_WIDTH.max(MAX_CLASSES)
        } else {
            MAX_WIDTH
        };
        if self.dims[0] == 0 || self.dims[0] > MAX_FEATURES {
            return bad(format!("{} features (1 to {MAX_FEATURES})", self.dims[0]));
        }
        if let Some(w) = self.dims[1..].iter().find(|&&w| w == 0 || w > widest) {
            return bad(format!("a layer of width {w} (1 to {widest})"));
        }
        let outputs = *self.dims.last().expect("checked");
        match self.kind.is_multiclass() {
            true if outputs < 2 => return bad(format!("{outputs} classes (at least 2)")),
            false if self.dims.len() != 2 || outputs != 1 => {
                return bad(format!(
                    "a {} model has one output, not {:?}",
                    self.kind, self.dims
                ))
            }
            _ => {}
        }
        let widest_row = self.dims.iter().max().expect("checked");
        if self.rows > MAX_ROWS || self.rows.saturating_mul(*widest_row) > MAX_ELEMS {
            return bad(format!(
                "{} rows of up to {widest_row} values (at most {MAX_ROWS} rows and {MAX_ELEMS} values)",
                self.rows
            ));
        }
        FixedPoint::new(self.frac_bits).map_err(|e| ModelError::Config(e.to_string()))?;
        hidden_activation(&TrainConfig {
            relu_degree: self.relu_degree,
            ..TrainConfig::default()
        })?;
        self.block_shapes()?;
        if self.security == Security::Active {
            self.check_active()?;
        }
        Ok(())
    }
}

impl InferSpec {
    /// Active security runs every network and output; its authenticated
    /// material comes from the dealer so far.
    fn check_active(&self) -> Result<()> {
        if self.preprocessing != Provider::Dealer {
            return Err(ModelError::Config(
                "active security: authenticated material comes from the dealer so far".into(),
            ));
        }
        Ok(())
    }
}
