extern crate alloc;
use burn::prelude::*;
use burn::tensor::Bytes;
use burn_store::BurnpackStore;
use burn_store::ModuleSnapshot;
#[derive(Module, Debug)]
pub struct Model {
    constant5: burn::module::Param<Tensor<1>>,
    constant6: burn::module::Param<Tensor<1>>,
    constant7: burn::module::Param<Tensor<2>>,
    constant12: burn::module::Param<Tensor<1>>,
    constant13: burn::module::Param<Tensor<1>>,
    constant16: burn::module::Param<Tensor<1>>,
    constant17: burn::module::Param<Tensor<1>>,
    constant22: burn::module::Param<Tensor<1>>,
    constant23: burn::module::Param<Tensor<1>>,
    constant26: burn::module::Param<Tensor<1>>,
    constant27: burn::module::Param<Tensor<1>>,
    constant42: burn::module::Param<Tensor<1>>,
    constant43: burn::module::Param<Tensor<1>>,
    constant45: burn::module::Param<Tensor<1>>,
    linear1: crate::kernels::Linear,
    linear2: crate::kernels::Linear,
    linear3: crate::kernels::Linear,
    linear4: crate::kernels::Linear,
    linear5: crate::kernels::Linear,
    linear6: crate::kernels::Linear,
    linear7: crate::kernels::Linear,
    linear8: crate::kernels::Linear,
    linear9: crate::kernels::Linear,
    linear10: crate::kernels::Linear,
    linear11: crate::kernels::Linear,
    linear12: crate::kernels::Linear,
    linear13: crate::kernels::Linear,
    linear14: crate::kernels::Linear,
    #[module(skip)]
    device: Device,
}
impl Model {
    /// Load model weights from in-memory bytes.
    ///
    /// The bytes must be the contents of a `.bpk` file.
    pub fn from_bytes(bytes: Bytes, device: &Device) -> Self {
        let mut model = Self::new(device);
        let mut store = BurnpackStore::from_bytes(Some(bytes));
        model
            .load_from(&mut store)
            .unwrap_or_else(|e| panic!("Failed to load burnpack bytes: {e}"));
        model
    }
}
impl Model {
    #[allow(unused_variables)]
    pub fn new(device: &Device) -> Self {
        let constant5: burn::module::Param<Tensor<1>> = burn::module::Param::uninitialized(
            burn::module::ParamId::new(),
            move |device, _require_grad| Tensor::<
                1,
            >::zeros([32], (device, burn::tensor::DType::F32)),
            device.clone(),
            false,
            [32].into(),
        );
        let constant6: burn::module::Param<Tensor<1>> = burn::module::Param::uninitialized(
            burn::module::ParamId::new(),
            move |device, _require_grad| Tensor::<
                1,
            >::zeros([32], (device, burn::tensor::DType::F32)),
            device.clone(),
            false,
            [32].into(),
        );
        let constant7: burn::module::Param<Tensor<2>> = burn::module::Param::uninitialized(
            burn::module::ParamId::new(),
            move |device, _require_grad| Tensor::<
                2,
            >::zeros([514, 32], (device, burn::tensor::DType::F32)),
            device.clone(),
            false,
            [514, 32].into(),
        );
        let constant12: burn::module::Param<Tensor<1>> = burn::module::Param::uninitialized(
            burn::module::ParamId::new(),
            move |device, _require_grad| Tensor::<
                1,
            >::zeros([32], (device, burn::tensor::DType::F32)),
            device.clone(),
            false,
            [32].into(),
        );
        let constant13: burn::module::Param<Tensor<1>> = burn::module::Param::uninitialized(
            burn::module::ParamId::new(),
            move |device, _require_grad| Tensor::<
                1,
            >::zeros([32], (device, burn::tensor::DType::F32)),
            device.clone(),
            false,
            [32].into(),
        );
        let constant16: burn::module::Param<Tensor<1>> = burn::module::Param::uninitialized(
            burn::module::ParamId::new(),
            move |device, _require_grad| Tensor::<
                1,
            >::zeros([32], (device, burn::tensor::DType::F32)),
            device.clone(),
            false,
            [32].into(),
        );
        let constant17: burn::module::Param<Tensor<1>> = burn::module::Param::uninitialized(
            burn::module::ParamId::new(),
            move |device, _require_grad| Tensor::<
                1,
            >::zeros([32], (device, burn::tensor::DType::F32)),
            device.clone(),
            false,
            [32].into(),
        );
        let constant22: burn::module::Param<Tensor<1>> = burn::module::Param::uninitialized(
            burn::module::ParamId::new(),
            move |device, _require_grad| Tensor::<
                1,
            >::zeros([32], (device, burn::tensor::DType::F32)),
            device.clone(),
            false,
            [32].into(),
        );
        let constant23: burn::module::Param<Tensor<1>> = burn::module::Param::uninitialized(
            burn::module::ParamId::new(),
            move |device, _require_grad| Tensor::<
                1,
            >::zeros([32], (device, burn::tensor::DType::F32)),
            device.clone(),
            false,
            [32].into(),
        );
        let constant26: burn::module::Param<Tensor<1>> = burn::module::Param::uninitialized(
            burn::module::ParamId::new(),
            move |device, _require_grad| Tensor::<
                1,
            >::zeros([32], (device, burn::tensor::DType::F32)),
            device.clone(),
            false,
            [32].into(),
        );
        let constant27: burn::module::Param<Tensor<1>> = burn::module::Param::uninitialized(
            burn::module::ParamId::new(),
            move |device, _require_grad| Tensor::<
                1,
            >::zeros([32], (device, burn::tensor::DType::F32)),
            device.clone(),
            false,
            [32].into(),
        );
        let constant42: burn::module::Param<Tensor<1>> = burn::module::Param::uninitialized(
            burn::module::ParamId::new(),
            move |device, _require_grad| Tensor::<
                1,
            >::from_data(
                burn::tensor::TensorData::from([1f64]),
                (device, burn::tensor::DType::F32),
            ),
            device.clone(),
            false,
            [1].into(),
        );
        let constant43: burn::module::Param<Tensor<1>> = burn::module::Param::uninitialized(
            burn::module::ParamId::new(),
            move |device, _require_grad| Tensor::<
                1,
            >::from_data(
                burn::tensor::TensorData::from([
                    -340282346638528860000000000000000000000f64,
                ]),
                (device, burn::tensor::DType::F32),
            ),
            device.clone(),
            false,
            [1].into(),
        );
        let constant45: burn::module::Param<Tensor<1>> = burn::module::Param::uninitialized(
            burn::module::ParamId::new(),
            move |device, _require_grad| Tensor::<
                1,
            >::zeros([32], (device, burn::tensor::DType::F32)),
            device.clone(),
            false,
            [32].into(),
        );
        let linear1 = crate::kernels::LinearConfig::new(32usize, 32usize)
            .with_bias(true)
            .init(device);
        let linear2 = crate::kernels::LinearConfig::new(32usize, 32usize)
            .with_bias(true)
            .init(device);
        let linear3 = crate::kernels::LinearConfig::new(32usize, 32usize)
            .with_bias(true)
            .init(device);
        let linear4 = crate::kernels::LinearConfig::new(32usize, 32usize)
            .with_bias(true)
            .init(device);
        let linear5 = crate::kernels::LinearConfig::new(32usize, 64usize)
            .with_bias(true)
            .init(device);
        let linear6 = crate::kernels::LinearConfig::new(64usize, 32usize)
            .with_bias(true)
            .init(device);
        let linear7 = crate::kernels::LinearConfig::new(32usize, 32usize)
            .with_bias(true)
            .init(device);
        let linear8 = crate::kernels::LinearConfig::new(32usize, 32usize)
            .with_bias(true)
            .init(device);
        let linear9 = crate::kernels::LinearConfig::new(32usize, 32usize)
            .with_bias(true)
            .init(device);
        let linear10 = crate::kernels::LinearConfig::new(32usize, 32usize)
            .with_bias(true)
            .init(device);
        let linear11 = crate::kernels::LinearConfig::new(32usize, 64usize)
            .with_bias(true)
            .init(device);
        let linear12 = crate::kernels::LinearConfig::new(64usize, 32usize)
            .with_bias(true)
            .init(device);
        let linear13 = crate::kernels::LinearConfig::new(32usize, 32usize)
            .with_bias(true)
            .init(device);
        let linear14 = crate::kernels::LinearConfig::new(32usize, 1usize)
            .with_bias(true)
            .init(device);
        Self {
            constant5,
            constant6,
            constant7,
            constant12,
            constant13,
            constant16,
            constant17,
            constant22,
            constant23,
            constant26,
            constant27,
            constant42,
            constant43,
            constant45,
            linear1,
            linear2,
            linear3,
            linear4,
            linear5,
            linear6,
            linear7,
            linear8,
            linear9,
            linear10,
            linear11,
            linear12,
            linear13,
            linear14,
            device: device.clone(),
        }
    }
    #[allow(clippy::let_and_return, clippy::approx_constant)]
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Tensor<2, Int>,
        word_embeddings: Tensor<3>,
    ) -> Tensor<2> {
        let constant5_out1 = self.constant5.val();
        let constant6_out1 = self.constant6.val();
        let constant7_out1 = self.constant7.val();
        let constant12_out1 = self.constant12.val();
        let constant13_out1 = self.constant13.val();
        let constant16_out1 = self.constant16.val();
        let constant17_out1 = self.constant17.val();
        let constant22_out1 = self.constant22.val();
        let constant23_out1 = self.constant23.val();
        let constant26_out1 = self.constant26.val();
        let constant27_out1 = self.constant27.val();
        let constant42_out1 = self.constant42.val();
        let constant43_out1 = self.constant43.val();
        let constant45_out1 = self.constant45.val();
        let constant46_out1 = 1i32;
        let equal1_out1 = input_ids.equal_elem(constant46_out1);
        let not1_out1 = equal1_out1.bool_not();
        let cast1_out1 = not1_out1.int().cast(burn::tensor::DType::I32);
        let cumsum1_out1 = cast1_out1.clone().cumsum(1);
        let mul1_out1 = cumsum1_out1.mul(cast1_out1);
        let add1_out1 = mul1_out1.add_scalar(constant46_out1);
        let add2_out1 = word_embeddings
            .add((constant45_out1).unsqueeze_dims(&[0isize, 1isize]));
        let gather1_out1 = {
            let axis_size = constant7_out1.dims()[0] as i64;
            let negative = add1_out1.clone().lower_elem(0i64);
            let corrected = add1_out1.clone() + axis_size;
            let indices = add1_out1.mask_where(negative, corrected);
            constant7_out1.take::<2, 3>(0, indices)
        };
        let custom1_out1 = crate::kernels::add_layer_norm(
            add2_out1,
            gather1_out1,
            constant5_out1,
            constant6_out1,
            0.00001f32,
            crate::kernels::LayerNormForm::Operator,
        );
        let linear1_out1 = self.linear1.forward(custom1_out1.clone());
        let linear2_out1 = self.linear2.forward(custom1_out1.clone());
        let linear3_out1 = self.linear3.forward(custom1_out1.clone());
        let cast5_out1 = attention_mask.float().cast(burn::tensor::DType::F32);
        let sub1_out1 = (constant42_out1).unsqueeze_dims(&[0isize]).sub(cast5_out1);
        let mul2_out1 = sub1_out1.mul((constant43_out1).unsqueeze_dims(&[0isize]));
        let unsqueeze1_out1: Tensor<4> = mul2_out1.unsqueeze_dims::<4>(&[1, 2]);
        let custom2_out1 = crate::kernels::attention(
            linear1_out1,
            linear2_out1,
            linear3_out1,
            unsqueeze1_out1.clone(),
            4usize,
            0.35355335f32,
        );
        let linear4_out1 = self.linear4.forward(custom2_out1);
        let custom3_out1 = crate::kernels::add_layer_norm(
            linear4_out1,
            custom1_out1,
            constant12_out1,
            constant13_out1,
            0.00001f32,
            crate::kernels::LayerNormForm::Operator,
        );
        let custom4_out1 = self.linear5.forward_gelu(custom3_out1.clone());
        let linear6_out1 = self.linear6.forward(custom4_out1);
        let custom5_out1 = crate::kernels::add_layer_norm(
            linear6_out1,
            custom3_out1,
            constant16_out1,
            constant17_out1,
            0.00001f32,
            crate::kernels::LayerNormForm::Operator,
        );
        let linear7_out1 = self.linear7.forward(custom5_out1.clone());
        let linear8_out1 = self.linear8.forward(custom5_out1.clone());
        let linear9_out1 = self.linear9.forward(custom5_out1.clone());
        let custom6_out1 = crate::kernels::attention(
            linear7_out1,
            linear8_out1,
            linear9_out1,
            unsqueeze1_out1,
            4usize,
            0.35355335f32,
        );
        let linear10_out1 = self.linear10.forward(custom6_out1);
        let custom7_out1 = crate::kernels::add_layer_norm(
            linear10_out1,
            custom5_out1,
            constant22_out1,
            constant23_out1,
            0.00001f32,
            crate::kernels::LayerNormForm::Operator,
        );
        let custom8_out1 = self.linear11.forward_gelu(custom7_out1.clone());
        let linear12_out1 = self.linear12.forward(custom8_out1);
        let custom9_out1 = crate::kernels::add_layer_norm(
            linear12_out1,
            custom7_out1,
            constant26_out1,
            constant27_out1,
            0.00001f32,
            crate::kernels::LayerNormForm::Operator,
        );
        let gather2_out1 = {
            let sliced = custom9_out1.slice(s![.., 0, ..]);
            sliced.squeeze_dim::<2usize>(1)
        };
        let linear13_out1 = self.linear13.forward(gather2_out1);
        let tanh1_out1 = linear13_out1.tanh();
        let linear14_out1 = self.linear14.forward(tanh1_out1);
        linear14_out1
    }
}
